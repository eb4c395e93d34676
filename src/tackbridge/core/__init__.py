"""The bottom of the product: the clock, problem details, logging and HTTP plumbing that every
layer may use. Imports nothing else of tackbridge."""
