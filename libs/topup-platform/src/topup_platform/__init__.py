"""The one shared runtime of the top-up services.

Services depend on this package and on `topup-protos`, never on each other.
"""
