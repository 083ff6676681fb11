"""The employment department's service (Beskæftigelsesforvaltningen / jobcenter): job plans,
referrals to providers, the contact course and the caseworker tasks that reports create."""
