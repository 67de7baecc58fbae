"""积分分红 GraphQL: plans, day releases, team views, ops views and the admin mutations."""
