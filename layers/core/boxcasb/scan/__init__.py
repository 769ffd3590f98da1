"""File scanning: generations over every user's tree, priority rescans, and the file inventory."""
