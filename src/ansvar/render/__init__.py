"""What people read: comparisons as text, decisions as a data frame, and the HTML documentation site."""
