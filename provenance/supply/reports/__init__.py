"""The supply-chain exceptions report: pure pandas checks and the report laid out from them."""
