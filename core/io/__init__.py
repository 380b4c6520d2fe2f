"""Reading and writing files safely: photos and masks (``imageio``), atomic writes, validated records."""
