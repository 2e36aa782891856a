"""tap-enectiva: a Singer tap for the Enectiva energy-management API."""
