"""Issue 4's models: metric anomaly detectors, log templates, alert correlation, forecasts.

Pure functions over arrays (no I/O) in `robust`, `changepoint`, `events`, `multivariate`,
`logtemplates`, `logstats`, `correlation` and `forecast`; file formats in `series_io`; fitted
state on disk in `registry`. See docs/anomaly.md.
"""
