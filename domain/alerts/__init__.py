"""Price alerts in one slice: `model` (the Alert value, its rules and the AlertStore port),
`evaluation` (pure: does an event fire an alert) and `service` (AlertService: create, list and
delete alerts; evaluate them on events and notify the users whose alerts fire)."""
