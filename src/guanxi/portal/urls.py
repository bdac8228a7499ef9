from django.urls import path

from guanxi.portal import views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("account/login/", views.PortalLoginView.as_view(), name="login"),
    path("account/logout/", views.logout_view, name="logout"),
    path("account/signup/", views.signup, name="signup"),
    path("account/confirm/<str:token>/", views.confirm_email, name="confirm_email"),
    path("tickets/", views.ticket_list, name="tickets"),
    path("tickets/new/", views.ticket_new, name="ticket_new"),
    path("tickets/<int:pk>/", views.ticket_detail, name="ticket"),
    path("tickets/files/<int:pk>/", views.attachment, name="attachment"),
    path("tickets/<int:pk>/rate/", views.ticket_rate, name="ticket_rate"),
    path("tickets/<int:pk>/solved/", views.ticket_solve, name="ticket_solve"),
    path("chat/", views.chat, name="chat"),
    path("chat/messages/", views.chat_messages, name="chat_messages"),
    path("chat/send/", views.chat_send, name="chat_send"),
    path("help/", views.help_centre, name="help"),
    path("help/<int:pk>/", views.article, name="article"),
    path("help/solved/<str:token>/", views.solved_by_article, name="solved_by_article"),
    path("survey/<str:token>/", views.survey, name="survey"),
]
