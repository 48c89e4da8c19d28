"""The toolbox: what builds, drives and measures stockpulse on one machine (local stack, demo, bench,
dashboard generator). It imports the product; the product never imports it."""
