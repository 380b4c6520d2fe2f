"""Frozen entry point of ``maskingnet-app`` (the desktop app; ``--self-check PHOTO OUT``)."""

import multiprocessing

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a frozen child process runs its task, not the app
    from maskingnet_app.main import run

    run()
