"""The reward presets, one module per family; ``loralab.rewards.registry`` lists them."""
