"""The typed input and output: situations (their models built from the event files) and the Decision."""
