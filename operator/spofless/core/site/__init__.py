"""The site decision: from a site and what is observed to what to apply, report and announce."""
