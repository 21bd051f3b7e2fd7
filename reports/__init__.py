"""Report templates (``templates/``) and the code that renders them from the warehouse marts."""
