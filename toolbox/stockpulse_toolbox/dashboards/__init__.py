"""Grafana dashboards as code, built with the Grafana Foundation SDK (a dev dependency).

One module per dashboard (``api``, ``pipeline``, ``business``), each panel a small
function; ``render`` writes their JSON to ``charts/stockpulse/dashboards/``, which the
chart ships as ConfigMaps for Grafana's sidecar. ``stockpulse dashboards`` renders them,
``stockpulse dashboards --check`` fails when the committed JSON differs from the code.
"""
