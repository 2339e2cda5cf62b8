"""The demo and test footage: clips synthesized from real photos (see `app.demo.clip`).

Nothing here is needed by the appliance at run time; `scikit-image` and `av` are
development and set-up dependencies and are imported only when a clip is made.
"""
