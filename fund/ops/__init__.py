"""Operations, apart from the domain: seeding, backup and restore, migration between databases,
synthetic data for benchmarks, and the `fund` command line."""
