"""The operator console: a local web app over the same DLQ and replay code as ``nxbridge dlq``.

Only :mod:`nxbridge.console.app` and the modules it imports need the web library (Flask); nothing the Lambda
handlers import reaches this package (tools/check_layer.py checks it), so Flask stays out of the layer.
"""
