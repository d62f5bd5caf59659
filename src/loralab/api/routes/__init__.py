"""One router per resource; ``loralab.api.app`` includes them."""
