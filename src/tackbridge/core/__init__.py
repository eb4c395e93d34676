"""The bottom of the product: the clock, problem details, logging, HTTP plumbing, the SSRF guard
(``netguard``) and the bounds of inputs (``bounds``) that every layer may use. Imports nothing
else of tackbridge."""
