"""stockpulse: customer stock checks and orders, from HTTP through Kafka into the lake."""

__version__ = "0.1.0"
