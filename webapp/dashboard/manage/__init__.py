"""Management pages of the dashboard: models, devices, techniques and jobs.

Every page needs a logged-in user; creating, uploading, cancelling and
retrying need only that, deleting needs a staff account. TensorFlow is never
imported at start-up: parsing plans and loading uploaded models import the
compression library inside the request that needs it.
"""
