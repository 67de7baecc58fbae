"""消费增值 consumption appreciation over GraphQL: the pool, its price history, holdings, sales and subsidies."""
