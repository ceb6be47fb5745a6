"""The bottom layer: pieces every other package may use and that know nothing of them."""
