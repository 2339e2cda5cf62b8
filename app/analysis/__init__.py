"""What one camera's frames mean: motion → regions → detect → the classes kept → tracks → where
things stand → events → rules (`camera.CameraAnalysis`). Pure of I/O: a frame in, an `Outcome` out;
the live service and `edgewatch replay` build it the same way (`build.build_analyses`).

Modules are imported by their own names (`app.analysis.pipeline`, ...): this package's
`__init__` stays empty so that importing one stage does not import the rest (app.rules imports
`objects` and `parking`, and `camera` imports app.rules)."""
