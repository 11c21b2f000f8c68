"""Rule files to packs: read, validated, layered down a municipality's chain and compiled for the engine."""
