"""The shipped default YAML: demo config, categories, points rules, notices."""
