"""`cjm-ctl`: a thin shell over the library (root.py: the app and global options; images.py,
runtime.py: the commands; output.py: rich rendering; app.py: the entry point)."""
