"""Running the box: the live service (`service`, built by `assembly`, its `schedules`, `controls`
and the one status model `status_board`), its drivers (`runner` live at detect fps, `replay` over a
file), what an outcome leaves behind (`evidence` in the store, `recording` footage) and the
process around it (`metrics`, `notify` for systemd, `memory`, `timings`)."""
