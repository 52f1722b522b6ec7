"""Request models: the documented shape of every body the API accepts (see ``base.Strict``)."""
