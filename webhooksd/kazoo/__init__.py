"""Kazoo's shapes on the wire: AMQP events, document-change notices, ids, time units and the
JSON accessors hook modules use to read Kazoo's payloads."""
