"""`make bench`: intake capacity and latency of the signed recharge path against a bare baseline."""
