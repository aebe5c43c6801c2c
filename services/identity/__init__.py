"""Identity: schools, people and roles, credentials, tokens, parent–child links."""
