# Partner credentials, references and callbacks arrive with the partners issue.
