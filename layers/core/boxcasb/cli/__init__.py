"""`boxcasb`: the admin's command line. Talks to the deployed admin API with SigV4-signed requests."""
