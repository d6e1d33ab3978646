"""HTTP API for usage metering and cost visibility, by topic. The organization always comes from the credentials."""
