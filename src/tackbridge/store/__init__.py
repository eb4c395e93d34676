"""The store: schema, migrations, engines and the group-commit writer."""
