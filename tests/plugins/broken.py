"""A plugin that cannot be imported: crypy reports it by name and goes on without it."""

from crypy.plugins import NoSuchThing  # noqa: F401 - the point of this file
