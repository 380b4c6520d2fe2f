"""Process Folder and the review of a batch's folder."""
