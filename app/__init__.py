"""edgewatch: a smart security camera edge appliance (capture → detect → rules → publish/API)."""

__version__ = "0.1.0"
