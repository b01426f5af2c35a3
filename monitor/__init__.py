"""Earshot: social listening and customer-care alerting.

Data flows one way: source -> Mention -> sentiment -> spread detection -> alerts ->
store -> web UI. Each step lives in its own module; `monitor.pipeline` wires them.
"""

__version__ = "0.1.0"
