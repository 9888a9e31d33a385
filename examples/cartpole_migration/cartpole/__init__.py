"""A public migration nobody here wrote: Gymnasium's CartPole-v1 across gymnasium releases."""
