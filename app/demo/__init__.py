"""The demo and test footage: clips synthesized from real photos (`app.demo.clip`), and
scenes of several objects with per-frame ground truth for the identity benchmark
(`app.demo.scenes`).

Nothing here is needed by the appliance at run time; `scikit-image` and `av` are
development and set-up dependencies and are imported only when a clip is made.
"""
