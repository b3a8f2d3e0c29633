"""Long work off the page's thread: the queue (huey), the worker, submitting and following jobs."""
