"""Box webhooks (V2): delivery signature check and the signature keys, standard library only."""
