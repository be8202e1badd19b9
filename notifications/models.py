# Email and in-app notifications arrive with the notifications issue.
