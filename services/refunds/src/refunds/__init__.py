"""Refunds to the original payment path (资金原路返回) and the manual review desk (人工复核)."""
