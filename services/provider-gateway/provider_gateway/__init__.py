"""The provider gateway: the HTTP API through which providers (tilbudssteder) receive
referrals and report back on the citizens attending their offers."""
