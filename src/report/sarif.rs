//! SARIF 2.1.0 for GitHub code scanning (issue: "SARIF 2.1.0 that GitHub code scanning accepts").
