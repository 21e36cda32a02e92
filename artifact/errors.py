class ArtifactError(Exception):
    """An artifact failed its checks; the message names the file and what failed."""
