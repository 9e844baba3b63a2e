"""What runs on the learner's side: check, the panel, the error button, the gateway client."""
